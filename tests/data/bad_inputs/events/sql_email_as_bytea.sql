create table bad_events_bytea (event text, event_time timestamptz, email bytea, page_url text, order_id text);
insert into bad_events_bytea values
  ('Purchase', '2026-03-10T14:01:00Z', convert_to('sql1@example.com', 'UTF8'), 'https://shop.example.com/p/1', 'o1'),
  ('Purchase', '2026-03-10T14:02:00Z', convert_to('sql2@example.com', 'UTF8'), 'https://shop.example.com/p/2', 'o2');
-- query: select * from bad_events_bytea order by order_id
