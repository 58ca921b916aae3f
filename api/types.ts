/** Types shared by the api's modules. */

/** Keys, values and messages: strings are stored as UTF-8. */
export type Bytes = string | Uint8Array;
