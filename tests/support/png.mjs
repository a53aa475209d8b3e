// Tests make PNGs the same way the inference stand-in does.
export { makePng } from '../../scripts/standins/png.mjs';
