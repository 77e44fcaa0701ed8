-- One row per customer: current attributes and lifetime totals.
-- Current attributes come from the customer's most recent order of any status; on equal ordered_at the
-- largest order_id wins, compared byte-wise (collate "C") so the choice does not depend on the server locale.
create table dwh.customers as
with

orders as (
    select * from dwh.orders
),

latest_order as (
    select distinct on (orders.customer_id)
        orders.customer_id,
        orders.email,
        orders.first_name,
        orders.last_name,
        orders.country,
        orders.marketing_opt_in
    from orders
    order by orders.customer_id, orders.ordered_at desc, orders.order_id collate "C" desc
),

lifetime as (
    select
        orders.customer_id,
        min(orders.ordered_at) as first_order_at,
        max(orders.ordered_at) as last_order_at,
        count(*)::integer as order_count,
        (count(*) filter (where orders.is_purchase))::integer as purchase_count,
        coalesce(sum(orders.amount) filter (where orders.is_purchase), 0)::numeric(16, 2) as revenue
    from orders
    group by orders.customer_id
),

final as (
    select
        latest_order.customer_id,
        latest_order.email,
        latest_order.first_name,
        latest_order.last_name,
        latest_order.country,
        latest_order.marketing_opt_in,
        lifetime.first_order_at,
        lifetime.last_order_at,
        lifetime.order_count,
        lifetime.purchase_count,
        lifetime.revenue
    from latest_order
    inner join lifetime on lifetime.customer_id = latest_order.customer_id
)

select * from final;

alter table dwh.customers add primary key (customer_id);
