-- Monthly purchase counts and revenue add up to the warehouse's purchases.
with

mart as (
    select
        coalesce(sum(orders_by_month.order_count), 0) as order_count,
        coalesce(sum(orders_by_month.revenue), 0) as revenue
    from mrt.orders_by_month as orders_by_month
),

warehouse as (
    select
        count(*) as order_count,
        coalesce(sum(orders.amount), 0) as revenue
    from dwh.orders as orders
    where orders.is_purchase
)

select
    mart.order_count as mart_orders,
    warehouse.order_count as dwh_orders,
    mart.revenue as mart_revenue,
    warehouse.revenue as dwh_revenue
from mart
cross join warehouse
where mart.order_count != warehouse.order_count or mart.revenue != warehouse.revenue
