-- Grain: one row: which run published the data in these layers, from which file, and when.
-- Built inside the publishing transaction, so it always describes exactly the data next to it; the dashboard
-- keys its caches on run_id and shows the freshness from here.
create table mrt.publication as
with

orders as (
    select * from dwh.orders
),

final as (
    select
        current_setting('elt.run_id')::bigint as run_id,
        current_setting('elt.input_path') as input_path,
        now() as published_at,
        current_setting('elt.business_time_zone') as business_time_zone,
        count(*) as order_count,
        min(orders.ordered_at) as first_order_at,
        max(orders.ordered_at) as last_order_at
    from orders
)

select * from final;
