-- One row per customer: current attributes and lifetime totals.
-- Current attributes come from the customer's most recent order of any status; on equal ordered_at the
-- largest order_id wins, compared byte-wise (collate "C") so the choice does not depend on the server locale.
-- One sort by customer (newest order first) serves both: the window numbers each customer's orders in that
-- order and the grouping reads them as they come, taking the attributes from order number 1 and summing the
-- rest (at 1M orders: 1.5-1.7 s against 1.9-2.7 s for totals as windows over the whole partition).
create table dwh.customers as
with

orders as (
    select * from dwh.orders
),

ranked as (
    select
        orders.*,
        row_number() over (
            partition by orders.customer_id
            order by orders.ordered_at desc, orders.order_id collate "C" desc
        ) as recency
    from orders
),

final as (
    select
        ranked.customer_id,
        any_value(ranked.email) filter (where ranked.recency = 1) as email,
        any_value(ranked.first_name) filter (where ranked.recency = 1) as first_name,
        any_value(ranked.last_name) filter (where ranked.recency = 1) as last_name,
        any_value(ranked.country) filter (where ranked.recency = 1) as country,
        any_value(ranked.marketing_opt_in) filter (where ranked.recency = 1) as marketing_opt_in,
        min(ranked.ordered_at) as first_order_at,
        max(ranked.ordered_at) as last_order_at,
        count(*)::integer as order_count,
        (count(*) filter (where ranked.is_purchase))::integer as purchase_count,
        coalesce(sum(ranked.amount) filter (where ranked.is_purchase), 0)::numeric(16, 2) as revenue
    from ranked
    group by ranked.customer_id
)

select * from final;

alter table dwh.customers add primary key (customer_id);
