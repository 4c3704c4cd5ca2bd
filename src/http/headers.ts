/** Reading Node request and response headers, for every layer that handles raw HTTP. */

/** A header's value; of a repeated header, the first. */
export function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The media types of a Content-Type or Accept header, in order, lower-cased, parameters dropped. */
export function mediaTypes(header: string | null | undefined): string[] {
  return (header ?? '')
    .split(',')
    .map((part) => part.split(';')[0]?.trim().toLowerCase() ?? '')
    .filter((type) => type !== '');
}
