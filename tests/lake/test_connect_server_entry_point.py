"""`python -m steam_platform.spark_connect_server`: what it refuses to start with, and its overrides.

Without a JVM (`--print-conf`); the server itself runs in the local stack's tests and in front of a
standalone cluster (tests/lake/test_connect_on_cluster.py).
"""

from __future__ import annotations

from pathlib import Path

from entrypoint_conf import printed_conf, run_entry_point

from steam_platform.spark_connect_server import launch_spark_home
from streaming.connect_server import spark_home


def _refused(args: list[str], env: dict[str, str], tmp_path: Path) -> str:
    done = run_entry_point(args, env, tmp_path / "work")
    assert done.returncode == 2 and done.stdout == "", done  # argparse's usage error, no conf printed
    return done.stderr


def test_no_server_without_the_connector_jars_or_with_a_malformed_setting(tmp_path: Path) -> None:
    assert "$STEAM_SPARK_JARS is empty" in _refused([], {}, tmp_path)
    missing = _refused([], {"STEAM_SPARK_JARS": str(tmp_path / "gone.jar")}, tmp_path)
    assert "1 missing jar(s)" in missing and "gone.jar" in missing
    jar = tmp_path / "kafka.jar"
    jar.touch()
    assert "--conf expects KEY=VALUE, got 'no-value'" in _refused(
        ["--conf", "no-value"], {"STEAM_SPARK_JARS": str(jar)}, tmp_path
    )


def test_a_conf_override_wins_over_the_platforms_default(tmp_path: Path) -> None:
    jar = tmp_path / "kafka.jar"
    jar.touch()
    env = {"STEAM_SPARK_JARS": str(jar)}
    default = printed_conf([], env, tmp_path / "a")
    assert default["spark.sql.shuffle.partitions"] == "4"
    assert not (tmp_path / "a").exists()  # printing the conf creates no work or scratch folder
    changed = printed_conf(["--conf", "spark.sql.shuffle.partitions=12"], env, tmp_path / "b")
    assert changed["spark.sql.shuffle.partitions"] == "12"

    def rest(conf: dict[str, str]) -> dict[str, str]:  # all but the override and the scratch paths
        return {k: v for k, v in conf.items() if "shuffle" not in k and str(tmp_path) not in v}

    assert rest(changed) == rest(default) and len(rest(default)) > 20


def test_the_server_launches_from_a_spark_home_without_pysparks_zipped_sources(tmp_path: Path) -> None:
    """Spark puts `$SPARK_HOME/python/lib/pyspark.zip` first on its Python workers' path; the view
    the server launches from has Spark's parts and no zip, so workers import the compiled package
    (that they do is checked on a real server in tests/lake/test_lake_pipeline.py)."""
    home = spark_home()
    assert (home / "python" / "lib" / "pyspark.zip").is_file()  # what pyspark ships
    view = launch_spark_home(home, tmp_path)
    assert launch_spark_home(home, tmp_path) == view  # a restart reuses it
    assert (view / "bin" / "spark-submit").resolve() == (home / "bin" / "spark-submit").resolve()
    assert any((view / "jars").glob("spark-connect_*.jar"))
    assert not (view / "python").exists()
