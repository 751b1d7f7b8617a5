import uuid

from hypothesis import given
from hypothesis import strategies as st
from kitflow_shared.ids import name_uuid, random_uuid


def test_random_ids_are_version_4_uuids_in_canonical_text_and_all_different() -> None:
    ids = [random_uuid() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:1_000]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text


@given(namespace=st.uuids(), name=st.text(max_size=200))
def test_name_ids_are_the_uuid_modules_version_5(namespace: uuid.UUID, name: str) -> None:
    assert name_uuid(namespace, name) == str(uuid.uuid5(namespace, name))
