-- One row per order, cleaned and conformed.
-- The month of an order is its calendar month in the business time zone (setting elt.business_time_zone),
-- not in UTC: 2024-01-31T23:30Z is a February order in Amsterdam.
create table dwh.orders as
with

source as (
    select * from raw.orders
),

cleaned as (
    select
        source.order_id,
        source.ordered_at,
        source.customer_id,
        nullif(lower(btrim(source.email)), '') as email,
        nullif(btrim(source.first_name), '') as first_name,
        nullif(btrim(source.last_name), '') as last_name,
        nullif(upper(btrim(source.country)), '') as country,
        nullif(btrim(source.product_category), '') as product_category,
        source.quantity,
        source.unit_price,
        (source.quantity * source.unit_price)::numeric(14, 2) as amount,
        source.status,
        source.status = 'completed' as is_purchase,
        source.marketing_opt_in,
        source.ordered_at at time zone current_setting('elt.business_time_zone') as ordered_at_local
    from source
),

final as (
    select
        cleaned.*,
        date_trunc('month', cleaned.ordered_at_local)::date as order_month,
        date_part('year', cleaned.ordered_at_local)::integer as order_year,
        date_part('month', cleaned.ordered_at_local)::integer as order_month_of_year
    from cleaned
)

select * from final;

alter table dwh.orders add primary key (order_id);
