// FA's per-worker quality q_i in [0, 1] as a colour, one scale for the dashboard and the demo's report
// (which inlines this file): red for q = 0 (outside the flag), green for q = 1 (inside it).
const QUALITY_SCALE = { min: 0, max: 1, inRange: { color: ['#d64545', '#fde68a', '#1f9d55'] } };
