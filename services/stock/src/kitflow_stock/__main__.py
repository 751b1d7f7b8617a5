from kitflow_shared.serve import serve

from kitflow_stock import SERVICE
from kitflow_stock.config import StockSettings


def main() -> None:
    settings = StockSettings()
    serve(
        "kitflow_stock.bootstrap:create_app",
        service=SERVICE,
        host=settings.host,
        port=settings.port,
    )


if __name__ == "__main__":
    main()
