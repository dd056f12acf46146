create table bad_events_json (
  event text, event_time timestamptz, email text, page_url text, contents json, order_id text
);
insert into bad_events_json values
  ('Purchase', '2026-03-10T14:01:00Z', 'sql1@example.com', 'https://shop.example.com/p/1',
   '[{"content_id": "a", "price": 2.5, "quantity": 2}]', 'o1'),
  ('Purchase', '2026-03-10T14:02:00Z', 'sql2@example.com', 'https://shop.example.com/p/2',
   '{"content_id": "b"}', 'o2'),
  ('Purchase', '2026-03-10T14:03:00Z', 'sql3@example.com', 'https://shop.example.com/p/3',
   '[{"content_id": "c", "price": 1, "quantity": 1}]', 'o3');
-- query: select * from bad_events_json order by order_id
