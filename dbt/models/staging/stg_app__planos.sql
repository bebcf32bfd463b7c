with

source as (

    select * from {{ source('app', 'planos') }}

),

renamed as (

    select

        ----------  ids
        id as plano_id,

        ---------- text
        cast(nome as text) as plano,
        descricao,

        ---------- numerics
        cast(valor_mensal as numeric(10, 2)) as valor_mensal,
        duracao_meses,

        ---------- booleans
        ativo as is_ativo,

        ---------- timestamps
        criado_em

    from source

)

select * from renamed
