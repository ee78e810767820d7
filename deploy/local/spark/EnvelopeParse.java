package steam_platform.lake;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.DateTimeException;
import java.time.LocalDate;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF1;

/**
 * Bronze's envelope parser: one Kafka value (the JSON envelope's UTF-8 bytes) to the envelope's
 * fields, in one pass of Jackson's byte parser, inside the executor's JVM.
 *
 * <p>Spark's own {@code from_json} wraps every record in an {@code InputStreamReader} (an 8 KB
 * buffer per record) and re-serialises the payload object token by token; that was most of a
 * landing's CPU. Here the payload is not parsed at all: the parser skips it and reports where its
 * bytes start and end, and bronze keeps those bytes, the payload exactly as it arrived.
 *
 * <p>Returns null when the value is not one JSON object (malformed, trailing content, another
 * top-level type): bronze quarantines it. String fields take a JSON string as its text, another
 * scalar as its literal text, an object or array as its JSON text (as {@code from_json} would);
 * {@code schema_version} is an int only when the JSON holds an integer that fits. {@code
 * payload_start}/{@code payload_end} are byte offsets of the payload object ({@code end}
 * exclusive); {@code payload_start} is {@link #MISSING} when there is no payload or it is null,
 * {@link #NOT_AN_OBJECT} when it is anything but an object. A key given twice keeps its last value.
 * {@code observed_micros} is {@code observed_at} in microseconds since the epoch when it has the
 * form producers write ({@code 2026-10-01T23:59:59.123456Z}: UTC, 0-6 fraction digits), else null
 * and Spark's own timestamp cast reads the text (other forms, offsets, invalid dates).
 *
 * <p>Registered by {@code streaming/envelope_parse.py}; compiled against the running Spark's own
 * jars by the local stack's {@code spark} component ({@code steam_devstack/services/spark.py}).
 */
public final class EnvelopeParse implements UDF1<byte[], Row> {
  private static final long serialVersionUID = 1L;
  private static final JsonFactory FACTORY = new JsonFactory();

  /** {@code payload_start} when the envelope has no payload, or a JSON null. */
  public static final int MISSING = -1;

  /** {@code payload_start} when the payload is a string, number, boolean or array. */
  public static final int NOT_AN_OBJECT = -2;

  @Override
  public Row call(byte[] value) throws IOException {
    if (value == null) {
      return null;
    }
    String eventId = null;
    String source = null;
    String observedAt = null;
    String partitionKey = null;
    Integer schemaVersion = null;
    int payloadStart = MISSING;
    int payloadEnd = MISSING;
    Long observedMicros = null;
    try (JsonParser parser = FACTORY.createParser(value)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        return null;
      }
      JsonToken token;
      while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
        String name = parser.currentName();
        JsonToken field = parser.nextToken();
        switch (name) {
          case "event_id":
            eventId = text(parser, field, value);
            break;
          case "source":
            source = text(parser, field, value);
            break;
          case "observed_at":
            observedAt = text(parser, field, value);
            observedMicros = field == JsonToken.VALUE_STRING ? utcMicros(observedAt) : null;
            break;
          case "partition_key":
            partitionKey = text(parser, field, value);
            break;
          case "schema_version":
            schemaVersion = integer(parser, field);
            break;
          case "payload":
            if (field == JsonToken.START_OBJECT) {
              payloadStart = (int) parser.currentTokenLocation().getByteOffset();
              parser.skipChildren();
              payloadEnd = (int) parser.currentLocation().getByteOffset();
            } else {
              payloadStart = field == JsonToken.VALUE_NULL ? MISSING : NOT_AN_OBJECT;
              payloadEnd = payloadStart;
              parser.skipChildren();
            }
            break;
          default:
            parser.skipChildren();
        }
      }
      if (token != JsonToken.END_OBJECT || parser.nextToken() != null) {
        return null;
      }
    } catch (JsonProcessingException malformed) {
      return null;
    }
    return RowFactory.create(
        eventId, schemaVersion, source, observedAt, partitionKey, payloadStart, payloadEnd,
        observedMicros);
  }

  /** A string field's value: text of a scalar, JSON text of an object or array, null for null. */
  private static String text(JsonParser parser, JsonToken token, byte[] value) throws IOException {
    if (token == JsonToken.VALUE_NULL) {
      return null;
    }
    if (token.isScalarValue()) {
      return parser.getText();
    }
    int start = (int) parser.currentTokenLocation().getByteOffset();
    parser.skipChildren();
    int end = (int) parser.currentLocation().getByteOffset();
    return new String(value, start, end - start, StandardCharsets.UTF_8);
  }

  /**
   * {@code yyyy-MM-ddTHH:mm:ss[.f{1,6}]Z} as microseconds since the epoch; null for anything else
   * (Spark's cast then decides, so a time is never read differently from how Spark reads it).
   */
  static Long utcMicros(String text) {
    int n = text.length();
    if (n < 20 || n > 27 || text.charAt(n - 1) != 'Z' || text.charAt(4) != '-'
        || text.charAt(7) != '-' || text.charAt(10) != 'T' || text.charAt(13) != ':'
        || text.charAt(16) != ':') {
      return null;
    }
    int year = digits(text, 0, 4);
    int month = digits(text, 5, 7);
    int day = digits(text, 8, 10);
    int hour = digits(text, 11, 13);
    int minute = digits(text, 14, 16);
    int second = digits(text, 17, 19);
    long fraction = 0;
    if (n > 20) {
      if (text.charAt(19) != '.' || n == 21) {
        return null;
      }
      int fractionDigits = n - 21;
      int parsed = digits(text, 20, n - 1);
      if (parsed < 0) {
        return null;
      }
      fraction = parsed;
      for (int i = fractionDigits; i < 6; i++) {
        fraction *= 10;
      }
    } else if (n != 20) {
      return null;
    }
    if (year < 0 || month < 0 || day < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59
        || second < 0 || second > 59) {
      return null;
    }
    long epochDay;
    try {
      epochDay = LocalDate.of(year, month, day).toEpochDay();
    } catch (DateTimeException invalid) {
      return null;
    }
    long seconds = epochDay * 86_400L + hour * 3_600L + minute * 60L + second;
    return seconds * 1_000_000L + fraction;
  }

  /** The decimal number in {@code text[from, to)}, or -1 when a character is not a digit. */
  private static int digits(String text, int from, int to) {
    int value = 0;
    for (int i = from; i < to; i++) {
      char c = text.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      value = value * 10 + (c - '0');
    }
    return value;
  }

  /** An int field's value: an integer that fits, else null (a structure is skipped). */
  private static Integer integer(JsonParser parser, JsonToken token) throws IOException {
    if (token == JsonToken.VALUE_NUMBER_INT
        && parser.getNumberType() == JsonParser.NumberType.INT) {
      return parser.getIntValue();
    }
    parser.skipChildren();
    return null;
  }
}
