/**
 * Names for containers created without one, in dockerd's `adjective_surname` form. The word lists
 * are this project's own: what matters is the shape, which `docker ps` users and name filters expect.
 */

const ADJECTIVES = [
  "amber", "brave", "calm", "clever", "crisp", "daring", "eager", "fancy", "gentle", "glad",
  "happy", "hardy", "honest", "jolly", "keen", "kind", "lively", "lucid", "mellow", "merry",
  "modest", "nimble", "noble", "patient", "plucky", "polite", "proud", "quiet", "rapid", "ready",
  "rustic", "serene", "sharp", "shiny", "silent", "sincere", "smart", "snappy", "steady", "sunny",
  "swift", "tender", "tidy", "upbeat", "vivid", "warm", "wise", "witty", "young", "zesty",
];

const SURNAMES = [
  "agnesi", "babbage", "banach", "bohr", "boole", "cantor", "cauchy", "curie", "darwin", "dirac",
  "euclid", "euler", "faraday", "fermat", "fermi", "feynman", "fourier", "galois", "gauss", "germain",
  "hamilton", "hilbert", "hopper", "hubble", "huygens", "jacobi", "joule", "kelvin", "kepler", "lagrange",
  "laplace", "leibniz", "lovelace", "maxwell", "meitner", "mendel", "newton", "noether", "ohm", "pascal",
  "pauli", "planck", "poincare", "ramanujan", "riemann", "shannon", "tesla", "turing", "volta", "wiles",
];

/** A free name; `taken` says whether one is in use. Retries add a digit, as dockerd does. */
export function generateName(taken: (name: string) => boolean): string {
  for (let attempt = 0; ; attempt++) {
    const adjective = ADJECTIVES[Math.floor(Math.random() * ADJECTIVES.length)]!;
    const surname = SURNAMES[Math.floor(Math.random() * SURNAMES.length)]!;
    const name = attempt < 10 ? `${adjective}_${surname}` : `${adjective}_${surname}${Math.floor(Math.random() * 10 ** Math.min(attempt - 9, 6))}`;
    if (!taken(name)) return name;
  }
}
