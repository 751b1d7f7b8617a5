from kitflow_shared.serve import serve

from kitflow_distribution import SERVICE
from kitflow_distribution.config import DistributionSettings


def main() -> None:
    settings = DistributionSettings()
    serve(
        "kitflow_distribution.bootstrap:create_app",
        service=SERVICE,
        host=settings.host,
        port=settings.port,
    )


if __name__ == "__main__":
    main()
