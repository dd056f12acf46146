create table bad_members_int (email bigint);
insert into bad_members_int values (4155550101), (4155550102);
-- query: select email from bad_members_int order by email
