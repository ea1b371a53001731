// What both consumer programs end with (copied beside them by .ci/consumer-check): the program's
// result, printed, must be `expected` (compared as JSON); anything else, or a failure, exits 1.
export const expectResult = (run: Promise<unknown>, expected: unknown): void => {
  run.then(
    (result) => {
      const want = JSON.stringify(expected)
      const got = JSON.stringify(result)
      console.log(got)
      if (got !== want) {
        console.error(`expected ${want}`)
        process.exit(1)
      }
    },
    (error) => {
      console.error(error)
      process.exit(1)
    }
  )
}
