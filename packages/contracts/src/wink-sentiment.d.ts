// wink-sentiment ships no types; this is the part of its API touchstream uses.
declare module 'wink-sentiment' {
  interface WinkSentimentResult {
    /** Sum of the AFINN-165 valences (−5…5 per word), negations and emoji included. */
    score: number;
    /** The score averaged over the scored words and adjusted for the text's length: about −5…5. */
    normalizedScore: number;
  }
  function sentiment(phrase: string): WinkSentimentResult;
  export default sentiment;
}
