"""Routes for pools, their nodes, autoscale, node counts, supported images and usage."""

from __future__ import annotations

from typing import Any

from .pools import SUPPORTED_IMAGES
from .routing import Response, RouteHelpers, route
from .util import BatchApiError, conflict, rfc1123


class PoolRoutes(RouteHelpers):
    # -- account-level lists -----------------------------------------------------------

    @route("GET", "/supportedimages")
    def list_supported_images(self, query: dict[str, str], body: Any) -> Response:
        return self._page(
            "/supportedimages", query, [dict(i) for i in SUPPORTED_IMAGES], "supportedimages"
        )

    @route("GET", "/poolusagemetrics")
    def list_usage(self, query: dict[str, str], body: Any) -> Response:
        return self._page("/poolusagemetrics", query, [], "poolusagemetrics")

    @route("GET", "/nodecounts")
    def list_node_counts(self, query: dict[str, str], body: Any) -> Response:
        """Per pool, dedicated and lowPriority node counts by state (recording 2 #45)."""
        with self.world.lock:
            pools = sorted(self.world.pools.values(), key=lambda p: p.id.lower())
            items = [p.node_counts() for p in pools]
        return self._page("/nodecounts", query, items, "poolnodecounts")

    # -- pools -------------------------------------------------------------------------

    @route("POST", "/pools")
    def create_pool(self, query: dict[str, str], body: Any) -> Response:
        spec = self._require(body, "id", "vmSize")
        w = self.world
        with w.lock:
            if spec["id"] in w.pools:
                raise conflict("PoolExists", "The specified pool already exists.")
            pool = w.add_pool(spec["id"], spec)
            return self._created(f"/pools/{pool.id}", pool.etag, pool.modified)

    @route("GET", "/pools")
    def list_pools(self, query: dict[str, str], body: Any) -> Response:
        with self.world.lock:
            items = [p.to_json(self.base) for p in self.world.pools.values()]
        return self._page("/pools", query, items, "pools")

    @route("HEAD", "/pools/{poolId}")
    def pool_exists(self, query: dict[str, str], body: Any, poolId: str) -> Response:
        with self.world.lock:
            pool = self._pool(poolId)
            return Response(
                200, headers={"ETag": pool.etag, "Last-Modified": rfc1123(pool.modified)}
            )

    @route("GET", "/pools/{poolId}")
    def get_pool(self, query: dict[str, str], body: Any, poolId: str) -> Response:
        with self.world.lock:
            pool = self._pool(poolId)
            return self._one(
                pool.to_json(self.base), "pools/@Element", query, pool.etag, pool.modified,
                "pools",
            )

    @route("DELETE", "/pools/{poolId}")
    def delete_pool(self, query: dict[str, str], body: Any, poolId: str) -> Response:
        with self.world.lock:
            self.world.delete_pool(self._pool(poolId))
            return self._accepted()

    @route("PATCH", "/pools/{poolId}")
    def patch_pool(self, query: dict[str, str], body: Any, poolId: str) -> Response:
        body = self._require(body)
        with self.world.lock:
            pool = self._pool(poolId)
            for k in (
                "startTask",
                "metadata",
                "applicationPackageReferences",
                "displayName",
                "vmSize",
                "taskSlotsPerNode",
                "taskSchedulingPolicy",
                "targetNodeCommunicationMode",
            ):
                if k in body:
                    pool.spec[k] = body[k]
            pool.touch()
            return self._created(f"/pools/{poolId}", pool.etag, pool.modified, status=200)

    @route("POST", "/pools/{poolId}/updateproperties")
    def replace_pool(self, query: dict[str, str], body: Any, poolId: str) -> Response:
        body = self._require(body)
        with self.world.lock:
            pool = self._pool(poolId)
            for k in ("startTask", "metadata", "applicationPackageReferences",
                      "certificateReferences", "targetNodeCommunicationMode"):
                if body.get(k) is None:
                    pool.spec.pop(k, None)
                else:
                    pool.spec[k] = body[k]
            pool.touch()
            return self._accepted(
                f"/pools/{poolId}/updateproperties", pool.etag, pool.modified, status=204
            )

    @route("POST", "/pools/{poolId}/resize")
    def resize_pool(self, query: dict[str, str], body: Any, poolId: str) -> Response:
        body = self._require(body)
        if body.get("targetDedicatedNodes") is None and body.get("targetLowPriorityNodes") is None:
            # checked before the pool is looked up (recording 2 #0: {} on a missing pool)
            raise BatchApiError(
                400,
                "MissingRequiredProperty",
                "A required property was not specified in the request body.",
                [("PropertyName", "targetDedicatedNodes and/or targetLowPriorityNodes")],
            )
        with self.world.lock:
            pool = self._pool(poolId)
            self.world.resize(pool, body)
            return self._accepted(f"/pools/{poolId}/resize", pool.etag, pool.modified)

    @route("POST", "/pools/{poolId}/stopresize")
    def stop_resize(self, query: dict[str, str], body: Any, poolId: str) -> Response:
        with self.world.lock:
            pool = self._pool(poolId)
            self.world.stop_resize(pool)
            return self._accepted(f"/pools/{poolId}/stopresize", pool.etag, pool.modified)

    # -- autoscale (all answer 200, as recorded) ----------------------------------------

    @route("POST", "/pools/{poolId}/enableautoscale")
    def enable_autoscale(self, query: dict[str, str], body: Any, poolId: str) -> Response:
        body = self._require(body)
        with self.world.lock:
            pool = self._pool(poolId)
            self.world.enable_autoscale(pool, body)
            return self._accepted(
                f"/pools/{poolId}/enableautoscale", pool.etag, pool.modified, status=200
            )

    @route("POST", "/pools/{poolId}/evaluateautoscale")
    def evaluate_autoscale(self, query: dict[str, str], body: Any, poolId: str) -> Response:
        """200 with an AutoScaleRun; a bad formula's error is inside it (code guessed for a
        pool without autoscale: 409 OperationInvalidForCurrentState)."""
        body = self._require(body, "autoScaleFormula")
        with self.world.lock:
            pool = self._pool(poolId)
            if not pool.autoscale:
                raise conflict(
                    "OperationInvalidForCurrentState",
                    "The specified operation is not valid for the current state of the "
                    "resource.",
                )
            run = self.world.evaluate_formula(pool, body["autoScaleFormula"])
        out = {"odata.metadata": self._meta("Microsoft.Azure.Batch.Protocol.Entities.AutoScaleRun")}
        out.update(run)
        return Response(
            200, out, {"DataServiceId": f"{self.base}/pools/{poolId}/evaluateautoscale"}
        )

    @route("POST", "/pools/{poolId}/disableautoscale")
    def disable_autoscale(self, query: dict[str, str], body: Any, poolId: str) -> Response:
        with self.world.lock:
            pool = self._pool(poolId)
            self.world.disable_autoscale(pool)
            return self._accepted(
                f"/pools/{poolId}/disableautoscale", pool.etag, pool.modified, status=200
            )

    # -- nodes -------------------------------------------------------------------------

    @route("GET", "/pools/{poolId}/nodes")
    def list_nodes(self, query: dict[str, str], body: Any, poolId: str) -> Response:
        with self.world.lock:
            pool = self._pool(poolId)
            items = [n.to_json(self.base) for n in pool.nodes.values()]
        return self._page(f"/pools/{poolId}/nodes", query, items, "nodes")

    @route("GET", "/pools/{poolId}/nodes/{nodeId}")
    def get_node(self, query: dict[str, str], body: Any, poolId: str, nodeId: str) -> Response:
        with self.world.lock:
            node = self.world.find_node(poolId, nodeId)
            return self._one(node.to_json(self.base), "nodes/@Element", query, None, None,
                             "nodes")
