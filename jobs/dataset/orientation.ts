/**
 * EXIF orientation: a phone stores a picture as the sensor saw it and records how to turn
 * it upright. mmcv (OpenCV or Pillow) turns it on load, LabelImg (Qt's QImage) does not, so
 * boxes drawn in LabelImg on a phone photo are in the stored frame and must be turned with
 * the picture, or they land on the wrong pixels in training with no error anywhere.
 */

export interface Box4 {
  readonly x1: number;
  readonly y1: number;
  readonly x2: number;
  readonly y2: number;
}

/**
 * A box in the stored frame (stored size w × h) → the upright frame, for EXIF orientation
 * 1–8 (TIFF 6.0 / EXIF 2.3 tag 0x0112; e.g. 6 = turn 90° clockwise to display).
 */
export function boxToUpright(b: Box4, orientation: number, w: number, h: number): Box4 {
  const point = (x: number, y: number): [number, number] => {
    switch (orientation) {
      case 2:
        return [w - x, y];
      case 3:
        return [w - x, h - y];
      case 4:
        return [x, h - y];
      case 5:
        return [y, x];
      case 6:
        return [h - y, x];
      case 7:
        return [h - y, w - x];
      case 8:
        return [y, w - x];
      default:
        return [x, y];
    }
  };
  const [ax, ay] = point(b.x1, b.y1);
  const [bx, by] = point(b.x2, b.y2);
  return {
    x1: Math.min(ax, bx),
    y1: Math.min(ay, by),
    x2: Math.max(ax, bx),
    y2: Math.max(ay, by),
  };
}

export const ORIENTATION_WORDS: Readonly<Record<number, string>> = {
  2: "mirrored",
  3: "turned 180°",
  4: "flipped upside down",
  5: "mirrored and turned 90° anticlockwise",
  6: "turned 90° clockwise",
  7: "mirrored and turned 90° clockwise",
  8: "turned 90° anticlockwise",
};
