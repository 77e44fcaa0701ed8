-- Grain: one row per customer x seasonal month of the year (February, December) in which they made a purchase,
-- over all years, with the customer's current attributes. The seasonal marts are slices of this table.
-- Only the months the dashboard has audiences for are built: a new season is one more number below.
create table mrt.customers_by_month_of_year as
with

month_purchases as (
    select * from mrt.customer_month_purchases
    where order_month_of_year in (2, 12)
),

customers as (
    select * from dwh.customers
),

per_customer as (
    select
        month_purchases.order_month_of_year,
        month_purchases.customer_id,
        sum(month_purchases.order_count)::integer as order_count,
        sum(month_purchases.revenue)::numeric(16, 2) as revenue,
        min(month_purchases.first_order_at) as first_order_at,
        max(month_purchases.last_order_at) as last_order_at,
        array_agg(month_purchases.order_year order by month_purchases.order_year) as years
    from month_purchases
    group by month_purchases.order_month_of_year, month_purchases.customer_id
),

final as (
    select
        per_customer.order_month_of_year,
        customers.customer_id,
        customers.email,
        customers.first_name,
        customers.last_name,
        customers.country,
        customers.marketing_opt_in,
        per_customer.order_count,
        per_customer.revenue,
        per_customer.first_order_at,
        per_customer.last_order_at,
        per_customer.years
    from per_customer
    inner join customers on customers.customer_id = per_customer.customer_id
)

select * from final;

alter table mrt.customers_by_month_of_year add primary key (order_month_of_year, customer_id);
