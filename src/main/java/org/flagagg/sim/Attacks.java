package org.flagagg.sim;

import java.util.List;

/** The attacks by canonical name. */
public final class Attacks {

    /** Canonical names, in the order the docs list them. */
    public static final List<String> NAMES =
            List.of("none", "random", "reverse", "drop", "lie", "empire", "signflip", "nan", "zero", "duplicate",
                    "lienoise");

    private Attacks() {
    }

    /**
     * Creates the configured attack.
     *
     * @throws IllegalArgumentException for an unknown name (the message lists the valid ones)
     */
    public static Attack create(AttackConfig config) {
        return switch (config.name()) {
            case "none" -> new NoAttack();
            case "random" -> new RandomAttack(config.seed(), config.noise());
            case "reverse" -> new ReverseAttack(config.k());
            case "drop" -> new DropAttack(config.seed(), config.fraction());
            case "lie" -> new LittleIsEnoughAttack(config.z());
            case "empire" -> new EmpireAttack(config.eps());
            case "signflip" -> new SignFlipAttack();
            case "nan" -> new NonFiniteAttack(config.seed(), config.mode(), config.fraction());
            case "zero" -> new ZeroAttack();
            case "duplicate" -> new DuplicateAttack(config.target());
            case "lienoise" -> new LieNoiseAttack(config.seed(), config.z(), config.noise().std());
            default -> throw new IllegalArgumentException(
                    "unknown attack '" + config.name() + "' (attacks: " + String.join(", ", NAMES) + ")");
        };
    }

    /** Parses a spec such as {@code empire:eps=10} (see {@link AttackConfig#parse}) and creates the attack. */
    public static Attack create(String spec, long seed) {
        return create(AttackConfig.parse(spec, seed));
    }
}
