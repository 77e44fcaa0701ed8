-- Grain: one row: the overview page's headline numbers, counted once at build time instead of on every view.
create table mrt.overview as
with

customers as (
    select * from dwh.customers
),

months as (
    select * from mrt.orders_by_month
),

february as (
    select * from mrt.customers_february
),

december as (
    select * from mrt.customers_december
),

final as (
    select
        (select count(*) from customers) as customers,
        (select coalesce(sum(months.order_count), 0) from months) as purchases,
        (select coalesce(sum(months.revenue), 0) from months) as revenue,
        (select count(*) from february) as february,
        (select count(*) from february where february.marketing_opt_in) as february_opted_in,
        (select count(*) from december) as december,
        (select count(*) from december where december.marketing_opt_in) as december_opted_in
)

select * from final;
