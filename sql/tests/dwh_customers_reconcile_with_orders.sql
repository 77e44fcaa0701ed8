-- Every order belongs to exactly one customer row: lifetime counts and revenue add up to the orders.
with

from_customers as (
    select
        coalesce(sum(customers.order_count), 0) as order_count,
        coalesce(sum(customers.revenue), 0) as revenue
    from dwh.customers as customers
),

from_orders as (
    select
        count(*) as order_count,
        coalesce(sum(orders.amount) filter (where orders.is_purchase), 0) as revenue
    from dwh.orders as orders
)

select
    from_customers.order_count as customers_order_count,
    from_orders.order_count as orders_order_count,
    from_customers.revenue as customers_revenue,
    from_orders.revenue as orders_revenue
from from_customers
cross join from_orders
where
    from_customers.order_count != from_orders.order_count
    or from_customers.revenue != from_orders.revenue
