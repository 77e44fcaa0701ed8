-- The February and December audiences account for every purchase of their month, to the cent.
with

marts as (
    select 2 as month_of_year, count(*) as customer_count, sum(order_count) as order_count, sum(revenue) as revenue
    from mrt.customers_february
    union all
    select 12, count(*), sum(order_count), sum(revenue)
    from mrt.customers_december
),

warehouse as (
    select
        orders.order_month_of_year as month_of_year,
        count(distinct orders.customer_id) as customer_count,
        count(*) as order_count,
        sum(orders.amount) as revenue
    from dwh.orders as orders
    where orders.is_purchase and orders.order_month_of_year in (2, 12)
    group by orders.order_month_of_year
)

select
    marts.month_of_year,
    marts.customer_count as mart_customers,
    warehouse.customer_count as dwh_customers,
    marts.order_count as mart_orders,
    warehouse.order_count as dwh_orders,
    marts.revenue as mart_revenue,
    warehouse.revenue as dwh_revenue
from marts
full join warehouse on warehouse.month_of_year = marts.month_of_year
where
    coalesce(marts.customer_count, 0) != coalesce(warehouse.customer_count, 0)
    or coalesce(marts.order_count, 0) != coalesce(warehouse.order_count, 0)
    or coalesce(marts.revenue, 0) != coalesce(warehouse.revenue, 0)
