from kitflow_shared.serve import serve

from kitflow_gateway import SERVICE
from kitflow_gateway.config import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    serve(
        "kitflow_gateway.bootstrap:create_app",
        service=SERVICE,
        host=settings.host,
        port=settings.port,
    )


if __name__ == "__main__":
    main()
