"""The Dagster UI as a data manager's window: every asset has an owner, layer tags and a code
version; datasets carry their column schema from the spec; ADaM depends on what it is built from."""
from aclf.config import DEFAULT_STUDY_DIR
from aclf.version import code_version
from assets.configuration import load_configuration
from pipelines.definitions import defs


def test_every_asset_has_an_owner_a_layer_tag_and_the_code_version():
    graph = defs().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners and node.owners[0].startswith("team:"), key
        assert node.tags.get("layer"), key
        assert node.code_version == code_version(), key


def test_datasets_show_their_spec_columns_and_adam_its_real_inputs():
    config = load_configuration(DEFAULT_STUDY_DIR)
    sdtm, adam = config.spec("sdtm", "blinded"), config.spec("adam", "blinded")
    graph = defs().resolve_asset_graph()
    specs = {key.to_user_string(): graph.get(key) for key in graph.get_all_asset_keys()}
    for name, dataset in sdtm.datasets.items():
        schema = specs[f"sdtm/{name.lower()}"].metadata["dagster/column_schema"]
        assert [c.name for c in schema.columns] == [v.name for v in dataset.variables]
    for name, dataset in adam.datasets.items():
        parents = {k.to_user_string() for k in specs[f"adam/{name.lower()}"].parent_keys}
        declared = {f"sdtm/{n.lower()}" for n in dataset.inputs if n in sdtm.datasets} | \
                   {f"adam/{n.lower()}" for n in dataset.inputs if n in adam.datasets}
        assert parents == declared and len(parents) < len(sdtm.datasets)
        assert set(dataset.inputs) <= set(sdtm.datasets) | set(adam.datasets) | {"EX"}   # EX: unblinded only


def test_descriptions_are_plain_text_for_the_ui():
    graph = defs().resolve_asset_graph()
    descriptions = [graph.get(key).description or "" for key in graph.get_all_asset_keys()]
    assert all(descriptions) and not [d for d in descriptions if "``" in d]


def test_every_layer_after_ingestion_must_be_fresh_each_morning():
    graph = defs().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        policy = graph.get(key).freshness_policy
        if key.to_user_string() == "staged_source":
            assert policy is None                        # a source may skip a night
        else:
            assert policy.deadline_cron == "0 7 * * *" and policy.timezone == "Asia/Shanghai", key
