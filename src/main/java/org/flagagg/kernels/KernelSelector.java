package org.flagagg.kernels;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Picks the vectorised kernels when jdk.incubator.vector is in the boot layer, else the scalar ones. */
final class KernelSelector {
    static final Kernels BEST = select();

    private KernelSelector() {
    }

    private static Kernels select() {
        Logger log = LoggerFactory.getLogger(Kernels.class);
        // Classes that mention the incubator module fail to load without it: look before touching them.
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()) {
            try {
                return (Kernels) Class.forName("org.flagagg.kernels.VectorKernels")
                        .getDeclaredField("INSTANCE").get(null);
            } catch (ReflectiveOperationException | LinkageError e) {
                log.warn("vector kernels unavailable ({}); using the scalar path", e.toString());
                return ScalarKernels.INSTANCE;
            }
        }
        log.info("jdk.incubator.vector is not enabled (add --add-modules jdk.incubator.vector); using the scalar kernels");
        return ScalarKernels.INSTANCE;
    }
}
