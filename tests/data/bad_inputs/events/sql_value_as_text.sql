create table bad_events_value (
  event text, event_time timestamptz, email text, page_url text, value text, currency text, order_id text
);
insert into bad_events_value values
  ('Purchase', '2026-03-10T14:01:00Z', 'sql1@example.com', 'https://shop.example.com/p/1', '19.99', 'USD', 'o1'),
  ('Purchase', '2026-03-10T14:02:00Z', 'sql2@example.com', 'https://shop.example.com/p/2', 'n/a', 'USD', 'o2'),
  ('Purchase', '2026-03-10T14:03:00Z', 'sql3@example.com', 'https://shop.example.com/p/3', '5', 'USD', 'o3');
-- query: select * from bad_events_value order by order_id
