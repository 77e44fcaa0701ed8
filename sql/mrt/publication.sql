-- Grain: one row: which run published the data in these layers, from which file, and when.
-- Built inside the publishing transaction, so it always describes exactly the data next to it; the dashboard
-- keys its caches on run_id and shows the freshness from here.
create table mrt.publication as
with

-- The totals over all orders, read from the customers' lifetime totals (a smaller table than dwh.orders; the data
-- test dwh_customers_reconcile_with_orders checks they add up to the orders).
customers as (
    select * from dwh.customers
),

final as (
    select
        current_setting('elt.run_id')::bigint as run_id,
        current_setting('elt.input_path') as input_path,
        now() as published_at,
        current_setting('elt.business_time_zone') as business_time_zone,
        coalesce(sum(customers.order_count), 0)::bigint as order_count,
        min(customers.first_order_at) as first_order_at,
        max(customers.last_order_at) as last_order_at
    from customers
)

select * from final;
