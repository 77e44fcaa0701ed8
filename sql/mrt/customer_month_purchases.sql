-- Grain: one row per customer x year x calendar month (business time zone) with at least one purchase.
-- The dashboard filters the seasonal audiences by year through this table.
create table mrt.customer_month_purchases as
with

purchases as (
    select * from dwh.orders
    where is_purchase
),

final as (
    select
        purchases.order_month_of_year,
        purchases.order_year,
        purchases.customer_id,
        count(*)::integer as order_count,
        sum(purchases.amount)::numeric(16, 2) as revenue,
        min(purchases.ordered_at) as first_order_at,
        max(purchases.ordered_at) as last_order_at
    from purchases
    group by purchases.order_month_of_year, purchases.order_year, purchases.customer_id
)

select * from final;
-- No primary key: the grain is the GROUP BY key, so it cannot repeat, and nothing looks rows up by it (the key's
-- index cost about a tenth of the mrt layer).
