"""The webhook's HTTP app: the AdmissionReview endpoint, a status page; /healthcheck and /metrics come from the
runtime."""

from __future__ import annotations

from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aloft_webhook.admission import MUTATE_PATH, BadReview, answer, parse_review
from aloft_webhook.config import WebhookConfig
from aloft_webhook.secrets.mutator import SecretsMutator, build_injectors

REVIEWS = Counter("flyte:webhook:admission_reviews", "AdmissionReviews answered", ["outcome"])


def build_app(config: WebhookConfig, environ: dict[str, str] | None = None) -> Starlette:
    mutator = SecretsMutator(build_injectors(config, environ))

    async def status(_: Request) -> Response:
        managers = [m.name for m in config.webhook.managers()]
        return JSONResponse(
            {"service": config.webhook.serviceName, "mutatePath": MUTATE_PATH, "secretManagers": managers}
        )

    async def mutate(request: Request) -> Response:
        try:
            review_request = parse_review(await request.body())
        except BadReview as exc:
            REVIEWS.labels("bad_request").inc()
            return JSONResponse({"error": str(exc)}, status_code=400)
        review = answer(mutator, review_request)
        response = review["response"]
        REVIEWS.labels("patched" if "patch" in response else "allowed" if response["allowed"] else "refused").inc()
        return JSONResponse(review)

    return Starlette(routes=[Route("/", status), Route(MUTATE_PATH, mutate, methods=["POST"])])
