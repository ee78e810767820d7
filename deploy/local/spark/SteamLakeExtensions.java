package steam_platform.lake;

import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.FunctionIdentifier;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.ExpressionInfo;
import scala.Function1;
import scala.Tuple3;
import scala.collection.immutable.Seq;
import scala.runtime.BoxedUnit;

/**
 * The lake's additions to every session of a Spark that names this class in {@code
 * spark.sql.extensions}: the Spark Connect server does ({@code streaming/connect_server.py}), so a
 * run attached to it calls {@code steam_envelope_parse} as an in-process driver does after {@link
 * EnvelopeParseExpression#register} (a Connect client has no JVM to register it in).
 */
public final class SteamLakeExtensions implements Function1<SparkSessionExtensions, BoxedUnit> {

  @Override
  public BoxedUnit apply(SparkSessionExtensions extensions) {
    Function1<Seq<Expression>, Expression> builder = EnvelopeParseExpression::build;
    extensions.injectFunction(
        new Tuple3<>(
            new FunctionIdentifier(EnvelopeParseExpression.NAME),
            new ExpressionInfo(EnvelopeParseExpression.class.getName(), EnvelopeParseExpression.NAME),
            builder));
    return BoxedUnit.UNIT;
  }
}
