"""The ELT's Spark session: the JVM runs with the options the extract's speed depends on."""
from __future__ import annotations

import os

import pytest


def test_the_jvm_collects_garbage_with_the_throughput_collector(spark):
    from elt.spark import collector_option

    if not collector_option(os.environ):
        pytest.skip("this environment chose a collector for every JVM (JAVA_TOOL_OPTIONS or similar); it is kept")
    beans = spark._jvm.java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()
    names = sorted(bean.getName() for bean in beans)
    # HotSpot's names for the Parallel collector's young and old generation (G1 would be "G1 Young Generation" ...).
    assert names == ["PS MarkSweep", "PS Scavenge"]


def test_the_jit_compiles_the_validations_large_generated_methods(spark):
    arguments = list(spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    assert "-XX:-DontCompileHugeMethods" in arguments


def test_a_collector_chosen_for_every_jvm_in_the_environment_is_kept():
    from elt.spark import collector_option

    # The JVM refuses to start with two collectors ("Multiple garbage collectors selected").
    assert collector_option({"JAVA_TOOL_OPTIONS": "-Xss4m -XX:+UseG1GC"}) == ""
    assert collector_option({"_JAVA_OPTIONS": "-XX:+UseZGC"}) == ""
    assert collector_option({"JAVA_TOOL_OPTIONS": "-Xss4m"}) == "-XX:+UseParallelGC"
    assert collector_option({}) == "-XX:+UseParallelGC"
