create table bad_members_jsonb (n int, email jsonb);
insert into bad_members_jsonb values (1, '"member1@example.com"'), (2, '{"address": "member2@example.com"}'), (3, '"member3@example.com"');
-- query: select email from bad_members_jsonb order by n
