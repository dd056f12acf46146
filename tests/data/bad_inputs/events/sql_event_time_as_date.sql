create table bad_events_date (event text, event_time date, email text, page_url text, order_id text);
insert into bad_events_date values
  ('Purchase', '2026-03-10', 'sql1@example.com', 'https://shop.example.com/p/1', 'o1'),
  ('Purchase', '2026-03-10', 'sql2@example.com', 'https://shop.example.com/p/2', 'o2');
-- query: select * from bad_events_date order by order_id
