from kitflow_shared.serve import serve

from kitflow_needs import SERVICE
from kitflow_needs.config import NeedsSettings


def main() -> None:
    settings = NeedsSettings()
    serve(
        "kitflow_needs.bootstrap:create_app",
        service=SERVICE,
        host=settings.host,
        port=settings.port,
    )


if __name__ == "__main__":
    main()
