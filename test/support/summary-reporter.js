// Ends every Jest run with one plain line, "N passed, N failed[, N skipped]", which CI reads.
// Jest prints its own summary after every reporter has finished, so the line is written at exit
// (on stderr, like Jest's output; writes to files and pipes are synchronous on Linux).
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const line = `${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
    process.once('exit', () => process.stderr.write(`\n${line}\n`));
  }
}
module.exports = SummaryReporter;
