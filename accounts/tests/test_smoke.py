def test_world_fixture_builds(world):
    assert world.org_a != world.org_b
