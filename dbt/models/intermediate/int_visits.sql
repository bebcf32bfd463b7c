{#-
  Visits, paired by the rule shared with the API (serving/sql/pair_visits.sql).

  Incremental (see macros/visits_recompute_from.sql): the pre-hook deletes every row from the
  re-pairing start S on (so a row that a late event removes, e.g. an orphan exit that now has its
  entry, goes too); the model then re-pairs from S' = the same expression on what is left
  (S' <= S), reading events from 6 h 2 min before S' so the first rows have their predecessors,
  and delete+insert on visita_id replaces the rows in [S', S). A backfill of old events is picked
  up through gravado_em; it only makes the window longer.
-#}
{{
    config(
        materialized='incremental',
        unique_key='visita_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        pre_hook="
            {% if is_incremental() %}
            delete from {{ this }}
            where coalesce(entrada, saida) >= {{ visits_recompute_from(this) }}
            {% endif %}
        "
    )
}}

with

checkins as (

    select checkin_id, aluno_id, tipo, ocorrido_em, gravado_em
    from {{ ref('stg_app__checkins') }}
    {% if is_incremental() %}
    where ocorrido_em >= {{ visits_recompute_from(this) }} - interval '6 hours 2 minutes'
    {% endif %}

),

paired as (

    {{ pair_visits('checkins') }}

),

final as (

    select
        cast(paired.visita_id as uuid) as visita_id,
        cast(paired.aluno_id as bigint) as aluno_id,
        cast(paired.evento as text) as evento,
        paired.entrada,
        paired.saida,
        cast(paired.duracao_minutos as numeric(10, 1)) as duracao_minutos,
        {{ local_date('coalesce(paired.entrada, paired.saida)') }} as data_local,
        cast(
            extract(
                hour from coalesce(paired.entrada, paired.saida)
                at time zone '{{ var("gym_timezone") }}'
            ) as integer
        ) as hora_local,
        -- when the key event (the entry, or the orphan exit) was written; drives the next run
        checkins.gravado_em,
        cast(current_timestamp as timestamptz) as processado_em
    from paired
    inner join checkins on checkins.checkin_id = paired.visita_id
    {% if is_incremental() %}
    where coalesce(paired.entrada, paired.saida) >= {{ visits_recompute_from(this) }}
    {% endif %}

)

select * from final
