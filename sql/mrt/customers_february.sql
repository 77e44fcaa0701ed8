-- Audience: one row per customer with at least one purchase in February of any year.
-- order_count, revenue, first/last_order_at cover that month's purchases over all years; years lists them.
create table mrt.customers_february as
with

by_month as (
    select * from mrt.customers_by_month_of_year
    where order_month_of_year = 2
),

final as (
    select
        by_month.customer_id,
        by_month.email,
        by_month.first_name,
        by_month.last_name,
        by_month.country,
        by_month.marketing_opt_in,
        by_month.order_count,
        by_month.revenue,
        by_month.first_order_at,
        by_month.last_order_at,
        by_month.years,
        by_month.search_text
    from by_month
)

select * from final;

alter table mrt.customers_february add primary key (customer_id);
create index on mrt.customers_february (country, marketing_opt_in);
-- The preview's order (best customers first): the first page is read from the index, not sorted from all rows.
create index on mrt.customers_february (revenue desc, customer_id);
