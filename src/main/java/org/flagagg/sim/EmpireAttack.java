package org.flagagg.sim;

/**
 * empire, "Fall of Empires" (inner-product manipulation, Xie, Koyejo and Gupta, UAI 2019): all colluders
 * send -eps * mu, mu the coordinate-wise mean of the honest gradients of the round. A small eps (0.1)
 * keeps the faulty vectors close to the honest ones so distance-based rules keep them, yet turns the
 * inner product of the aggregate with the true gradient negative; eps = 10 is the paper's other setting.
 */
public final class EmpireAttack implements Attack {

    private final double eps;

    public EmpireAttack(double eps) {
        if (!Double.isFinite(eps)) {
            throw new IllegalArgumentException("empire: eps must be a finite number, got " + eps);
        }
        this.eps = eps;
    }

    @Override
    public String name() {
        return "empire";
    }

    @Override
    public void apply(long offset, float[][] honest, float[][] own, int len, float[][] out) {
        int n = honest.length;
        for (int i = 0; i < len; i++) {
            double sum = 0;
            for (int h = 0; h < n; h++) {
                sum += honest[h][i];
            }
            float v = (float) (-eps * (sum / n));
            for (int b = 0; b < out.length; b++) {
                out[b][i] = v;
            }
        }
    }
}
