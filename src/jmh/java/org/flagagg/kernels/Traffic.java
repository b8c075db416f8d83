package org.flagagg.kernels;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * GB of float32 input processed. JMH reports it as a secondary result "&lt;benchmark&gt;:gigabytes" in
 * "ops/s", which is then GB/s of input (10^9 bytes).
 */
@AuxCounters(AuxCounters.Type.OPERATIONS)
@State(Scope.Thread)
public class Traffic {
    public double gigabytes;

    @Setup(Level.Iteration)
    public void reset() {
        gigabytes = 0;
    }

    /** The kernels by benchmark parameter; fails loudly when "vector" is asked for without the module. */
    static Kernels kernels(String name) {
        Kernels kernels = "scalar".equals(name) ? Kernels.scalar() : Kernels.best();
        if (!kernels.name().equals(name)) {
            throw new IllegalStateException("asked for the " + name + " kernels but got " + kernels.name()
                    + ": run with --add-modules=jdk.incubator.vector");
        }
        return kernels;
    }
}
