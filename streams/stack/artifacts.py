"""Fetching the stack's jars from Maven Central, once, into a cache outside the clone.

Kafka and the OpenSearch runner are plain Maven artifacts; a throwaway POM plus
``mvn dependency:copy-dependencies`` gives a directory with the artifact and its
runtime dependencies, which is all a ``java -cp 'dir/*'`` launch needs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from streams.stack.process import StackError

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.voc-pipeline</groupId>
  <artifactId>stack-fetch</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{deps}
  </dependencies>
</project>
"""

_DEP = (
    "    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
    "<version>{v}</version></dependency>"
)


def java_bin(java_home: Path | None, tool: str = "java") -> Path:
    """The java (or javac) executable: from java_home if set, else from PATH."""
    if java_home is not None:
        exe = Path(java_home) / "bin" / tool
        if not exe.exists():
            raise StackError(f"{exe} not found: install a JDK there or fix the java_home setting")
        return exe
    found = shutil.which(tool)
    if not found:
        raise StackError(f"{tool} not found: install a JDK 17+ (apt-get install openjdk-17-jdk)")
    return Path(found)


def jvm_argv(java: Path, heap: str, classpath: str, main: str, *args: str,
             opts: Sequence[str] = ()) -> list[str]:
    """A stack JVM's command line. Every one gets a fixed heap (no resize pauses, a known
    footprint on a small machine), G1 and headless AWT; ``opts`` are its own extra flags."""
    return [str(java), f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            *opts, "-cp", classpath, main, *args]


def java_major(java: Path) -> int:
    """The Java feature version (17, 21, 25...) of an executable."""
    out = subprocess.run(  # noqa: S603
        [str(java), "-version"], capture_output=True, text=True, check=False
    ).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        raise StackError(f"cannot tell the Java version of {java}: {out.strip()[:200]}")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def fetch_maven(coords: list[str], dest: Path) -> Path:
    """Copy ``group:artifact:version`` coordinates and their runtime deps into dest/lib (once)."""
    lib = dest / "lib"
    done = dest / ".complete"
    if done.exists():
        return lib
    mvn = shutil.which("mvn")
    if not mvn:
        raise StackError("mvn not found: install Maven (e.g. apt-get install maven)")
    dest.mkdir(parents=True, exist_ok=True)
    deps = []
    for coord in coords:
        g, a, v = coord.split(":")
        deps.append(_DEP.format(g=g, a=a, v=v))
    (dest / "pom.xml").write_text(_POM.format(deps="\n".join(deps)))
    if lib.exists():
        shutil.rmtree(lib)
    proc = subprocess.run(  # noqa: S603
        [
            mvn, "-q", "-B", "-f", str(dest / "pom.xml"),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={lib}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        detail = (proc.stdout + proc.stderr).strip().splitlines()
        errors = [line for line in detail if "ERROR" in line][:3] or detail[-3:]
        raise StackError(f"Maven could not fetch {', '.join(coords)}: " + " | ".join(errors))
    done.write_text("\n".join(coords) + "\n")
    return lib


def compile_java(src: Path, classes: Path, classpath: str, javac: Path) -> Path:
    """Compile one small Java source into classes/ unless it is already up to date."""
    stamp = classes / (src.stem + ".class")
    if stamp.exists() and stamp.stat().st_mtime >= src.stat().st_mtime:
        return classes
    classes.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(  # noqa: S603
        [str(javac), "-d", str(classes), "-cp", classpath, str(src)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise StackError(f"javac failed on {src}: {proc.stderr.strip()[:500]}")
    return classes
