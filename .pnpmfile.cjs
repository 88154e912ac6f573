// Published manifests carry only what a user of the package needs.
const SOURCE_CONDITION = '@edgekit/source';

/** Removes the workspace-only export condition (it points at TypeScript sources that are not published). */
function withoutSourceCondition(entry) {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return entry;
  const out = {};
  for (const [key, value] of Object.entries(entry)) {
    if (key !== SOURCE_CONDITION) out[key] = withoutSourceCondition(value);
  }
  return out;
}

module.exports = {
  hooks: {
    beforePacking(pkg) {
      if (pkg.exports !== undefined) pkg.exports = withoutSourceCondition(pkg.exports);
      // Development-only: test utilities (private), benchmarks' peers, build tools, and the scripts that run them.
      delete pkg.devDependencies;
      delete pkg.scripts;
      return pkg;
    },
  },
};
