-- The run log: one row per ELT run, written while the run goes, read by the dashboard.
-- Not part of the swapped layers: it must survive every run, good or failed.
create schema if not exists meta;

create table if not exists meta.elt_runs (
    run_id bigint generated always as identity primary key,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    status text not null default 'running' check (status in ('running', 'succeeded', 'failed')),
    current_stage text,
    input_path text not null,
    triggered_by text not null default 'cli',
    rows_read bigint,
    rows_loaded bigint,
    rows_rejected bigint,
    rows_duplicate bigint,
    stage_seconds jsonb not null default '{}'::jsonb,
    error_message text
);
