/** The oldest API version every engine still accepts, the manager's floor. */
export const MIN_API_VERSION = "1.12";
/** Reported while no engine is validated yet: the newest version dockerd 20.10 speaks. */
export const DEFAULT_API_VERSION = "1.41";

/** Docker API versions compare by their numbers: 1.9 is older than 1.10. */
export function compareApiVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split(".").map(Number);
  const [bMajor = 0, bMinor = 0] = b.split(".").map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}
