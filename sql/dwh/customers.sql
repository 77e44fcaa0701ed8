-- One row per customer: current attributes and lifetime totals.
-- Current attributes come from the customer's most recent order of any status; on equal ordered_at the
-- largest order_id wins, compared byte-wise (collate "C") so the choice does not depend on the server locale.
-- Both windows share one sort by customer (newest order first): the totals need no second pass and no join.
create table dwh.customers as
with

orders as (
    select * from dwh.orders
),

per_order as (
    select
        orders.customer_id,
        orders.email,
        orders.first_name,
        orders.last_name,
        orders.country,
        orders.marketing_opt_in,
        row_number() over newest_first as recency,
        min(orders.ordered_at) over customer as first_order_at,
        max(orders.ordered_at) over customer as last_order_at,
        count(*) over customer as order_count,
        count(*) filter (where orders.is_purchase) over customer as purchase_count,
        sum(orders.amount) filter (where orders.is_purchase) over customer as revenue
    from orders
    window
        customer as (partition by orders.customer_id),
        newest_first as (
            partition by orders.customer_id
            order by orders.ordered_at desc, orders.order_id collate "C" desc
        )
),

final as (
    select
        per_order.customer_id,
        per_order.email,
        per_order.first_name,
        per_order.last_name,
        per_order.country,
        per_order.marketing_opt_in,
        per_order.first_order_at,
        per_order.last_order_at,
        per_order.order_count::integer as order_count,
        per_order.purchase_count::integer as purchase_count,
        coalesce(per_order.revenue, 0)::numeric(16, 2) as revenue
    from per_order
    where per_order.recency = 1
)

select * from final;

alter table dwh.customers add primary key (customer_id);
