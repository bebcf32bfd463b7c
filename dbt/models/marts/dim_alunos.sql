with

alunos as (

    select * from {{ ref('stg_app__alunos') }}

),

planos as (

    select * from {{ ref('stg_app__planos') }}

),

periodos as (

    select * from {{ ref('int_alunos_status_periodos') }}

),

visitas as (

    select * from {{ ref('int_visits') }}
    where evento = 'visita'

),

ultimo_periodo as (

    select distinct on (aluno_id)
        aluno_id,
        numero_periodo as count_periodos_ativos,
        data_inicio as data_inicio_periodo_atual,
        data_fim
    from periodos
    order by aluno_id, numero_periodo desc

),

resumo_visitas as (

    select
        aluno_id,
        count(*) as count_visitas,
        min(data_local) as data_primeira_visita,
        max(data_local) as data_ultima_visita
    from visitas
    group by aluno_id

),

final as (

    select
        alunos.aluno_id,
        alunos.aluno_ref,
        alunos.nome,
        alunos.plano_id,
        planos.plano,
        planos.valor_mensal,
        planos.duracao_meses,
        alunos.data_matricula,
        alunos.matriculado_em,
        alunos.is_ativo,
        alunos.is_sintetico,
        case when alunos.is_ativo then 'ativo' else 'inativo' end as status_atual,
        -- the end of the last active period, when the member is not active now
        case when not alunos.is_ativo then ultimo_periodo.data_fim end as data_cancelamento,
        coalesce(ultimo_periodo.count_periodos_ativos, 0) as count_periodos_ativos,
        coalesce(resumo_visitas.count_visitas, 0) as count_visitas,
        resumo_visitas.data_primeira_visita,
        resumo_visitas.data_ultima_visita
    from alunos
    inner join planos on planos.plano_id = alunos.plano_id
    left join ultimo_periodo on ultimo_periodo.aluno_id = alunos.aluno_id
    left join resumo_visitas on resumo_visitas.aluno_id = alunos.aluno_id

)

select * from final
