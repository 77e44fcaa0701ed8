-- raw.orders holds one row per order_id (exact copies were dropped, conflicts rejected). Two rows here mean a
-- load wrote a partition twice.
select
    orders.order_id,
    count(*) as row_count
from raw.orders as orders
group by orders.order_id
having count(*) > 1
